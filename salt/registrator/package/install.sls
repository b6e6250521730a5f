{#- The OS's Python packages the agent uses: the Docker SDK, requests, and venv. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import registrator with context %}

registrator-package-install-pkg-installed:
  pkg.installed:
    - pkgs: {{ registrator.pkgs | json }}
