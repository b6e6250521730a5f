{#- Gives the host its own sources back before the mirror's go: the OS's files that
    replace_os_sources moved aside come back first, so that the host always has a source. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_os_restore = tplroot ~ '.os.restore' %}
{%- from tplroot ~ "/map.jinja" import family, sources with context %}
{%- if family %}

include:
  - {{ sls_os_restore }}
{%-   if family == 'debian' %}

pkgsources-os-clean-file-absent:
  file.absent:
    - name: {{ sources.file }}
    - require:
      - sls: {{ sls_os_restore }}
{%-   else %}

pkgsources-os-clean-pkgrepo-absent:
  pkgrepo.absent:
    - names:
{%-     for id in sources.os_repos %}
      - {{ tplroot }}-{{ id }}
{%-     endfor %}
    - require:
      - sls: {{ sls_os_restore }}
{%-   endif %}
{%- endif %}
