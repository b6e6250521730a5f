{#- One package index refresh (apt-get update, or yum/dnf makecache) when any source changed,
    so that the package installs of every later formula see the new sources. It fails, naming
    the source, when any source of the host cannot be read: a wrong mirror shows here, not as
    a package "not found" further on. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import family, sources with context %}
{%- set changed_by = [] %}
{%- if sources.get('mirror') %}
{%-   do changed_by.append(tplroot ~ '.os.' ~ family) %}
{%-   do changed_by.append(tplroot ~ '.os.' ~ ('replace' if sources.replace_os_sources
                                                else 'restore')) %}
{%- endif %}
{%- if sources.get('repos') %}
{%-   do changed_by.append(tplroot ~ '.repos.managed') %}
{%- endif %}
{%- if changed_by %}

include:
{%-   for sls in changed_by %}
  - {{ sls }}
{%-   endfor %}

pkgsources-refresh-db-module-run:
  module.run:
    - pkg.refresh_db:
      - failhard: True
    - onchanges:
{%-   for sls in changed_by %}
      - sls: {{ sls }}
{%-   endfor %}
{%- endif %}
