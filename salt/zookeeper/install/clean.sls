{#- Removes what install/ put in place, after the configuration: the OS package, purged with
    its configuration files (zoo.cfg, myid); or the unpacked release and its logback.xml link;
    and the zookeeper account the archive and none methods create. The Java runtime stays:
    Marathon runs on it too. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import zookeeper with context %}

include:
  - {{ tplroot }}.config.clean
{%- if zookeeper.install.method == 'package' %}

zookeeper-clean-pkg-purged:
  pkg.purged:
    - pkgs: {{ zookeeper.install.package.names | json }}
    - require:
      - sls: {{ tplroot }}.config.clean
{%- else %}
{%-   if zookeeper.install.method == 'archive' %}

zookeeper-clean-file-absent-logback.xml:
  file.absent:
    - name: {{ zookeeper.config_dir }}/logback.xml
    - require:
      - sls: {{ tplroot }}.config.clean

zookeeper-clean-file-absent-archive-directory:
  file.absent:
    - name: {{ zookeeper.install.archive.directory }}
    - require:
      - file: zookeeper-clean-file-absent-logback.xml
{%-   endif %}

zookeeper-clean-user-absent:
  user.absent:
    - name: {{ zookeeper.user }}
    - require:
      - sls: {{ tplroot }}.config.clean

zookeeper-clean-group-absent:
  group.absent:
    - name: {{ zookeeper.group }}
    - require:
      - user: zookeeper-clean-user-absent
{%- endif %}
