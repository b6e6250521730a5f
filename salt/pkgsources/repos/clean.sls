{#- Removes the site's other repositories that pillar lists. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import sources with context %}
{%- set codename = grains.get('oscodename', '') %}
{%- for id, repo in sources.get('repos', {}) | dictsort %}

pkgsources-repos-clean-pkgrepo-absent-{{ id }}:
  pkgrepo.absent:
    - name: {{ repo.name.replace('{codename}', codename) | json }}
{%- endfor %}
