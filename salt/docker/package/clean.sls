{#- Removes the engine's packages once the service is stopped; /var/lib/docker (images,
    containers, volumes) stays. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import docker with context %}

include:
  - {{ tplroot }}.service.clean

docker-package-clean-pkg-removed:
  pkg.removed:
    - pkgs: {{ docker.pkg.names | json }}
    - require:
      - sls: {{ tplroot }}.service.clean

{%- if docker.repo %}

docker-package-clean-pkgrepo-absent:
  pkgrepo.absent:
    - name: {{ docker.repo.name }}
    - require:
      - pkg: docker-package-clean-pkg-removed
{%- endif %}
