{#- Salt and salt_minion:python_pkgs in a venv of the host's Python 3 at
    salt_minion:install:pip:prefix, from an index or a mirror's wheelhouse (an air-gapped
    site: index_url empty, find_links its wheelhouse page); service/running.sls runs its
    salt-minion. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import salt_minion with context %}
{%- from tplroot ~ "/minion/install/requirements.jinja" import pip_installed with context %}
{%- set prefix = salt_minion.install.pip.prefix %}

salt-minion-install-pip-pkg-installed:
  pkg.installed:
    - pkgs: {{ salt_minion.install.pip.pkgs | json }}

salt-minion-install-pip-cmd-run-venv:
  cmd.run:
    - name: python3 -m venv {{ prefix }}
    - creates: {{ prefix }}/bin/python
    - require:
      - pkg: salt-minion-install-pip-pkg-installed
{{ pip_installed(
    'salt-minion-install-pip-cmd-run-pip-install',
    prefix ~ '/bin/python -m pip',
    salt['slsutil.merge']({'salt': salt_minion.version}, salt_minion.python_pkgs),
    [{'cmd': 'salt-minion-install-pip-cmd-run-venv'}]) }}
