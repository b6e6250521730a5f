{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_config_file = tplroot ~ '.config.file' %}
{%- from tplroot ~ "/map.jinja" import dns with context %}

include:
  - {{ sls_config_file }}

dns-package-install-pkg-installed:
  pkg.installed:
    - name: {{ dns.package }}
    - require:
      - sls: {{ sls_config_file }}
