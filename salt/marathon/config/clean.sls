{#- Removes the flag file, the Mesos secret and the logback configuration once the service is
    stopped. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import marathon with context %}

include:
  - {{ tplroot }}.service.clean
{%- for name, path in [('environment', marathon.environment_file),
                        ('secret-file', marathon.security.secret_file),
                        ('logback-file', marathon.security.logback_file)] %}

marathon-clean-file-absent-{{ name }}:
  file.absent:
    - name: {{ path }}
    - require:
      - sls: {{ tplroot }}.service.clean
{%- endfor %}
