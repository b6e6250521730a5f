{#- Purges the package once the configuration is gone (the purge takes Debian's conffiles),
    and the repository the formula added, if any. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import haproxy with context %}
{%- set package = haproxy.install.package %}

include:
  - {{ tplroot }}.config.clean

haproxy-install-clean-pkg-purged:
  pkg.purged:
    - name: {{ package.name }}
    - require:
      - sls: {{ tplroot }}.config.clean

{%- if package.repo %}

haproxy-install-clean-pkgrepo-absent:
  pkgrepo.absent:
    - name: {{ package.repo.name }}
    - require:
      - pkg: haproxy-install-clean-pkg-purged
{%- endif %}
