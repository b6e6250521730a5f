{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import dns with context %}

include:
  - {{ tplroot }}.service.clean

dns-config-clean-file-absent:
  file.absent:
    - names:
      - {{ dns.config_file }}
      - {{ dns.resolv_conf.upstream }}
    - require:
      - sls: {{ tplroot }}.service.clean
