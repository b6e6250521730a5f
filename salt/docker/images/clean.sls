{#- Removes the downloaded tarballs; the imported images go with the engine's data. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import docker with context %}

docker-images-clean-file-absent:
  file.absent:
    - name: {{ docker.image_cache_dir }}
