{#- The engine runs and starts at boot. A changed daemon.json restarts it: bip, dns, the log
    driver and the cgroup driver take effect only at a start, and a reload would leave the
    engine green with the old settings. live-restore (defaults.yaml) keeps the containers
    running through the restart. The unit is Type=notify: the state is green once the
    engine answers. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_config_file = tplroot ~ '.config.file' %}
{%- set sls_package_install = tplroot ~ '.package.install' %}
{%- from tplroot ~ "/map.jinja" import docker with context %}

include:
  - {{ sls_config_file }}
  - {{ sls_package_install }}

docker-service-running-service-running:
  service.running:
    - name: {{ docker.service.name }}
    - enable: True
    - require:
      - sls: {{ sls_package_install }}
    - watch:
      - sls: {{ sls_config_file }}
