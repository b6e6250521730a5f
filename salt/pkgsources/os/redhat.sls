{#- The OS's repositories on the site's mirror, one yum/dnf repository each, with ids of the
    formula's own (pkgsources-baseos): under the OS's ids (baseos), pkgrepo.managed would edit
    the OS's repo file, which replace_os_sources moves aside. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import sources with context %}
{%- for id, repo in sources.os_repos | dictsort if repo %}

pkgsources-os-redhat-pkgrepo-managed-{{ id }}:
  pkgrepo.managed:
    - name: {{ tplroot }}-{{ id }}
    - humanname: {{ repo.humanname | json }}
    - baseurl: {{ (sources.mirror.rstrip('/') ~ '/' ~ repo.path) | json }}
    - gpgcheck: {{ sources.gpgcheck }}
  {%- if sources.gpgkey %}
    - gpgkey: {{ sources.gpgkey | json }}
  {%- endif %}
{%- endfor %}
