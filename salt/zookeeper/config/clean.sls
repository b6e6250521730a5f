{#- Removes what config/ wrote, once the service is stopped: the environment file, the members'
    JAAS file, and, unless
    the OS package owns them (its purge removes them: install/clean.sls), zoo.cfg,
    log4j.properties and myid. The data directory goes only with
    zookeeper:clean:remove_data: true; the log directory stays. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import zookeeper with context %}

include:
  - {{ tplroot }}.service.clean

{%- for name, path in [('environment', zookeeper.service.environment_file),
                        ('jaas', zookeeper.security.jaas_file)] %}

zookeeper-clean-file-absent-{{ name }}:
  file.absent:
    - name: {{ path }}
    - require:
      - sls: {{ tplroot }}.service.clean
{%- endfor %}
{%- if zookeeper.install.method != 'package' %}
{%-   for name, written in [('zoo.cfg', True), ('log4j.properties', zookeeper.log4j)] if written %}

zookeeper-clean-file-absent-{{ name }}:
  file.absent:
    - name: {{ zookeeper.config_dir }}/{{ name }}
    - require:
      - sls: {{ tplroot }}.service.clean
{%-   endfor %}

zookeeper-clean-file-absent-myid:
  file.absent:
    - name: {{ zookeeper.myid_file }}
    - require:
      - sls: {{ tplroot }}.service.clean
{%- endif %}
{%- if zookeeper.clean.remove_data %}

zookeeper-clean-file-absent-data-dir:
  file.absent:
    - name: {{ zookeeper.data_dir }}
    - require:
      - sls: {{ tplroot }}.service.clean
{%- endif %}
