{#- Apache's release tarball, checked against the .sha512 Apache publishes next to it (or a
    hash pinned in pillar: zookeeper:install:archive:source_hash: sha512=<hex>), unpacked under
    zookeeper:install:archive:directory; `current` points at the version in use. `source` and
    `source_hash` are format strings over {base_url} and {version}: a mirror overrides
    base_url only. A Java runtime comes from the OS. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import zookeeper with context %}
{%- set archive = zookeeper.install.archive %}
{%- set url_parts = {'base_url': archive.base_url.rstrip('/'), 'version': archive.version} %}
{%- set release_dir = archive.directory ~ '/apache-zookeeper-' ~ archive.version ~ '-bin' %}

zookeeper-install-archive-pkg-installed-java:
  pkg.installed:
    - pkgs: {{ archive.java_packages | json }}

zookeeper-install-archive-archive-extracted:
  archive.extracted:
    - name: {{ archive.directory }}
    - source: {{ archive.source.format(**url_parts) }}
    - source_hash: {{ archive.source_hash.format(**url_parts) }}
    - if_missing: {{ release_dir }}
    - user: root
    - group: root
    - trim_output: True

zookeeper-install-archive-file-symlink-current:
  file.symlink:
    - name: {{ archive.directory }}/current
    - target: {{ release_dir }}
    - force: True
    - require:
      - archive: zookeeper-install-archive-archive-extracted

{#- ZooKeeper 3.8 logs through logback and looks for logback.xml in its configuration
    directory; without it, it logs everything at DEBUG. #}
zookeeper-install-archive-file-symlink-logback:
  file.symlink:
    - name: {{ zookeeper.config_dir }}/logback.xml
    - target: {{ archive.directory }}/current/conf/logback.xml
    - makedirs: True
    - require:
      - file: zookeeper-install-archive-file-symlink-current
