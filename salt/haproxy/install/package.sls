{#- The OS package, or the one of the repository in pillar haproxy:install:package:repo (a
    vendor's, e.g. haproxy.debian.net). HAProxy publishes sources only, so there is no archive
    method. On a systemd host the package starts HAProxy with its own configuration, which
    listens nowhere; config/file.sls then writes the edge's and the service reloads. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import haproxy with context %}
{%- set package = haproxy.install.package %}

{%- if package.repo %}

haproxy-install-package-pkgrepo-managed:
  pkgrepo.managed:
  {%- for argument, value in package.repo | dictsort %}
    - {{ argument }}: {{ value | json }}
  {%- endfor %}
    - require_in:
      - pkg: haproxy-install-package-pkg-installed
{%- endif %}

haproxy-install-package-pkg-installed:
  pkg.installed:
    - name: {{ package.name }}
{%- if package.version %}
    - version: {{ package.version | json }}
{%- endif %}
