{#- The OS's own archives on the site's mirror, when pillar pkgsources:<family>:mirror names
    one: written, then the OS's default sources moved aside (replace_os_sources) or left, and
    brought back if an earlier run had moved them. Without a mirror nothing is rendered. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import family, sources with context %}
{%- if sources.get('mirror') %}

include:
  - .{{ family }}
  - .{{ 'replace' if sources.replace_os_sources else 'restore' }}
{%- endif %}
