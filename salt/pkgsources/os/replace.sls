{#- replace_os_sources: the OS's own source files are moved aside (FILE.disabled, which apt
    and yum skip), and only once the mirror's sources are written, so that the host always has
    a source. A file that comes back (a package update) is moved aside again. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import family, sources with context %}
{%- set sls_os_family = tplroot ~ '.os.' ~ family %}

include:
  - {{ sls_os_family }}

pkgsources-os-replace-file-rename:
  file.rename:
    - names:
{%- for path in sources.os_source_files %}
      - {{ path }}.disabled:
        - source: {{ path }}
{%- endfor %}
    - force: True
    - require:
      - sls: {{ sls_os_family }}
