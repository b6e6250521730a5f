{#- A venv under registrator:directory that sees the OS's packages, with py-consul installed
    from its wheel, downloaded from registrator:py_consul:base_url (a mirror overrides it)
    and checked against source_hash. pip installs from that file only: no index is asked. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_package_install = tplroot ~ '.package.install' %}
{%- from tplroot ~ "/map.jinja" import registrator with context %}
{%- set py_consul = registrator.py_consul %}
{%- set venv = registrator.directory ~ '/venv' %}
{%- set wheel = registrator.directory ~ '/wheels/' ~ py_consul.wheel %}
{#- A wheel's file name is NAME-VERSION-TAGS.whl. #}
{%- set version = py_consul.wheel.split('-')[1] %}

include:
  - {{ sls_package_install }}

registrator-venv-install-file-managed-wheel:
  file.managed:
    - name: {{ wheel }}
    - source: {{ py_consul.base_url.rstrip('/') }}/{{ py_consul.wheel }}
    - source_hash: {{ py_consul.source_hash }}
    - user: root
    - group: root
    - mode: '0644'
    - makedirs: True

registrator-venv-install-cmd-run-venv:
  cmd.run:
    - name: python3 -m venv --system-site-packages {{ venv }}
    - creates: {{ venv }}/bin/python
    - require:
      - sls: {{ sls_package_install }}

registrator-venv-install-cmd-run-py-consul:
  cmd.run:
    - name: >-
        {{ venv }}/bin/python -m pip install --quiet --no-index --no-deps
        --disable-pip-version-check --force-reinstall {{ wheel }}
    - unless: >-
        {{ venv }}/bin/python -c "import importlib.metadata as m, sys;
        sys.exit(m.version('py-consul') != '{{ version }}')"
    - require:
      - cmd: registrator-venv-install-cmd-run-venv
      - file: registrator-venv-install-file-managed-wheel
