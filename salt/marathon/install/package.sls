{#- The marathon package, from marathon:install:package:repo (pkgrepo.managed arguments) when
    set, else from a repository the host already has. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import marathon with context %}
{%- set package = marathon.install.package %}

{%- if package.repo %}

marathon-install-package-pkgrepo-managed:
  pkgrepo.managed:
  {%- for argument, value in package.repo | dictsort %}
    - {{ argument }}: {{ value | json }}
  {%- endfor %}
    - require_in:
      - pkg: marathon-install-package-pkg-installed
{%- endif %}

marathon-install-package-pkg-installed:
  pkg.installed:
    - name: {{ package.name }}
  {%- if package.version %}
    - version: {{ package.version | json }}
  {%- endif %}
