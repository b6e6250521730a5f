{#- The engine's packages, from the OS (Debian's docker.io) or from the repository in pillar
    docker:repo (Docker CE on the RedHat family). daemon.json is written first, so that the
    engine the package starts already runs with it. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_config_file = tplroot ~ '.config.file' %}
{%- from tplroot ~ "/map.jinja" import docker with context %}

include:
  - {{ sls_config_file }}

{%- if docker.repo %}

docker-package-install-pkgrepo-managed:
  pkgrepo.managed:
  {%- for argument, value in docker.repo | dictsort %}
    - {{ argument }}: {{ value | json }}
  {%- endfor %}
    - require_in:
      - pkg: docker-package-install-pkg-installed
{%- endif %}

docker-package-install-pkg-installed:
  pkg.installed:
    - pkgs: {{ docker.pkg.names | json }}
    - install_recommends: {{ docker.pkg.install_recommends | json }}
    - require:
      - sls: {{ sls_config_file }}
