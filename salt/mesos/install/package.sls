{#- AVENTER's Mesos package, from its repository unless mesos:install:package:repo is {}
    (pkgrepo.managed arguments; `name` may hold {codename}, the OS codename). #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import mesos with context %}
{%- set package = mesos.install.package %}

{%- if package.repo %}

mesos-install-package-pkgrepo-managed:
  pkgrepo.managed:
  {%- for argument, value in package.repo | dictsort %}
    {%- if argument == 'name' %}
    - name: {{ value.format(codename=grains.get('oscodename', '')) | json }}
    {%- else %}
    - {{ argument }}: {{ value | json }}
    {%- endif %}
  {%- endfor %}
    - require_in:
      - pkg: mesos-install-package-pkg-installed
{%- endif %}

mesos-install-package-pkg-installed:
  pkg.installed:
    - name: {{ package.name }}
  {%- if package.version %}
    - version: {{ package.version | json }}
  {%- endif %}
