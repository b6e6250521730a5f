{#- One package index refresh once the sources are back to the host's own. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- set sls_os_clean = tplroot ~ '.os.clean' %}
{%- set sls_repos_clean = tplroot ~ '.repos.clean' %}
{%- from tplroot ~ "/map.jinja" import family, sources with context %}
{%- set changed_by = ([sls_os_clean] if family else [])
                     + ([sls_repos_clean] if sources.get('repos') else []) %}
{%- if changed_by %}

include:
{%-   for sls in changed_by %}
  - {{ sls }}
{%-   endfor %}

pkgsources-refresh-clean-module-run:
  module.run:
    - pkg.refresh_db:
      - failhard: True
    - onchanges:
{%-   for sls in changed_by %}
      - sls: {{ sls }}
{%-   endfor %}
{%- endif %}
