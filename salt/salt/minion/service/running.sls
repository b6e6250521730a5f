{#- The salt-minion service, enabled and running, restarted when its configuration, its keys
    or Salt change. Method pip runs the venv's minion from a unit of the formula's; method
    package the package's unit. The restart cuts a job the minion runs: apply salt.minion
    with salt-ssh, not through the minion itself. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_config = tplroot ~ '.minion.config' %}
{%- set sls_pki = tplroot ~ '.minion.pki' %}
{%- set sls_install = tplroot ~ '.minion.install' %}
{%- from tplroot ~ "/map.jinja" import salt_minion with context %}
{%- set with_unit = salt_minion.install.method == 'pip' %}

include:
  - {{ sls_config }}
  - {{ sls_pki }}
  - {{ sls_install }}
{%- if with_unit %}

salt-minion-service-running-file-managed-unit:
  file.managed:
    - name: {{ salt_minion.service.unit }}
    - source: salt://{{ tplroot }}/files/salt-minion.service.jinja
    - template: jinja
    - context:
        config:
          prefix: {{ salt_minion.install.pip.prefix }}
          version: {{ salt_minion.version | json }}
    - user: root
    - group: root
    - mode: '0644'

salt-minion-service-running-module-run-daemon-reload:
  module.run:
    - service.systemctl_reload: []
    - onchanges:
      - file: salt-minion-service-running-file-managed-unit
{%- endif %}

salt-minion-service-running-service-running:
  service.running:
    - name: {{ salt_minion.service.name }}
    - enable: True
{%- if with_unit %}
    - require:
      - module: salt-minion-service-running-module-run-daemon-reload
{%- endif %}
    - watch:
      - sls: {{ sls_config }}
      - sls: {{ sls_pki }}
      - sls: {{ sls_install }}
{%- if with_unit %}
      - file: salt-minion-service-running-file-managed-unit
{%- endif %}
