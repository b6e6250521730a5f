{#- ZooKeeper by the method in pillar zookeeper:install:method: package (the OS package, the
    default on Debian), archive (Apache's release tarball, hash-checked; the default on RedHat)
    or none (provided by other means, under zookeeper:install:none:bin_dir). The package
    creates the zookeeper account; the other methods create it here. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import zookeeper with context %}

{%- if zookeeper.install.method != 'none' %}

include:
  - {{ tplroot }}.install.{{ zookeeper.install.method }}
{%- endif %}
{%- if zookeeper.install.method != 'package' %}

zookeeper-install-group-present:
  group.present:
    - name: {{ zookeeper.group }}
    - system: True

zookeeper-install-user-present:
  user.present:
    - name: {{ zookeeper.user }}
    - gid: {{ zookeeper.group }}
    - system: True
    - home: {{ zookeeper.data_dir }}
    - createhome: False
    - shell: /usr/sbin/nologin
    - require:
      - group: zookeeper-install-group-present
{%- endif %}
