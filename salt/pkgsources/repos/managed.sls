{#- The site's other repositories (a vendor's, on the site's mirror), each as pkgrepo.managed
    takes it; `{codename}` in a name is the host's OS codename. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import sources with context %}
{%- set codename = grains.get('oscodename', '') %}
{%- for id, repo in sources.get('repos', {}) | dictsort %}

pkgsources-repos-managed-pkgrepo-managed-{{ id }}:
  pkgrepo.managed:
  {%- for argument, value in repo | dictsort %}
    {%- if argument == 'name' %}
    - name: {{ value.replace('{codename}', codename) | json }}
    {%- else %}
    - {{ argument }}: {{ value | json }}
    {%- endif %}
  {%- endfor %}
{%- endfor %}
