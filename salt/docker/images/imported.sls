{#- Images imported from tarballs, for sites whose hosts reach no registry: each entry of
    pillar docker:images is downloaded (hash-checked) and `docker import`ed as NAME:TAG with
    the optional Dockerfile `changes` (CMD, ENV, EXPOSE, ...). The image carries the tarball's
    hash as a label, so that a new tarball is imported again and an image that is present
    with the same hash is left alone. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_service_running = tplroot ~ '.service.running' %}
{%- from tplroot ~ "/map.jinja" import docker with context %}
{%- set hash_label = 'io.saltplatform.image.source-hash' %}

include:
  - {{ sls_service_running }}

{%- for name, image in docker.images | dictsort %}
{%-   set reference = name ~ ':' ~ image.get('tag', 'latest') %}
{%-   set tarball = docker.image_cache_dir ~ '/' ~ reference | replace('/', '_')
        | replace(':', '_') ~ '.tar' %}
{%-   set changes = image.get('changes', []) + ['LABEL ' ~ hash_label ~ '=' ~ image.source_hash] %}
{%-   set label_format = '{{ index .Config.Labels "' ~ hash_label ~ '" }}' %}

docker-images-imported-file-managed-{{ name }}:
  file.managed:
    - name: {{ tarball }}
    - source: {{ image.source }}
    - source_hash: {{ image.source_hash }}
    - user: root
    - group: root
    - mode: '0600'
    - makedirs: True

docker-images-imported-cmd-run-{{ name }}:
  cmd.run:
    - name: >-
        docker import
        {%- for change in changes %} --change {{ change | quote }}{% endfor %}
        {{ tarball }} {{ reference }}
    - unless: >-
        test "$(docker image inspect --format {{ label_format | quote }} {{ reference }}
        2>/dev/null)" = {{ image.source_hash | quote }}
    - require:
      - file: docker-images-imported-file-managed-{{ name }}
      - service: docker-service-running-service-running
{%- endfor %}
