{#- The OS's own source files back where replace_os_sources had moved them (FILE.disabled);
    nothing happens to a file that was not moved, or that is there again. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import sources with context %}

pkgsources-os-restore-file-rename:
  file.rename:
    - names:
{%- for path in sources.os_source_files %}
      - {{ path }}:
        - source: {{ path }}.disabled
{%- endfor %}
