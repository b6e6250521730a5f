{#- The consul package; with consul:install:package:repo set (pkgrepo.managed arguments), from
    that repository, e.g. HashiCorp's apt repository or a local mirror. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import consul with context %}
{%- set package = consul.install.package %}

{%- if package.repo %}

consul-install-package-pkgrepo-managed:
  pkgrepo.managed:
  {%- for argument, value in package.repo | dictsort %}
    - {{ argument }}: {{ value | json }}
  {%- endfor %}
    - require_in:
      - pkg: consul-install-package-pkg-installed
{%- endif %}

consul-install-package-pkg-installed:
  pkg.installed:
    - name: {{ package.name }}
  {%- if package.version %}
    - version: {{ package.version | json }}
  {%- endif %}
