{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import dns with context %}

include:
  - {{ tplroot }}.config.clean

dns-package-clean-pkg-removed:
  pkg.removed:
    - name: {{ dns.package }}
    - require:
      - sls: {{ tplroot }}.config.clean
