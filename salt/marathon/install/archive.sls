{#- A Marathon release tarball given in pillar (marathon:install:archive:source, with its
    source_hash: never skipped), unpacked into a directory of its version; `current` points
    at the version in use. A Java runtime comes from the OS. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import marathon with context %}
{%- set archive = marathon.install.archive %}
{%- if not (archive.source and archive.source_hash) %}
{{-   raise("pillar marathon:install:archive:source and source_hash must be set: Marathon is "
            ~ "archived upstream and has no default download; give the URL of a "
            ~ "marathon-1.10.x tarball and its hash, or set marathon:install:method to package "
            ~ "or none") }}
{%- endif %}
{%- set release_dir = archive.directory ~ '/' ~ archive.version %}

marathon-install-archive-pkg-installed-java:
  pkg.installed:
    - pkgs: {{ archive.java_packages | json }}

marathon-install-archive-archive-extracted:
  archive.extracted:
    - name: {{ release_dir }}
    - source: {{ archive.source }}
    - source_hash: {{ archive.source_hash }}
    # The tarball holds one directory marathon-<version>-<commit>/.
    - options: --strip-components=1
    - enforce_toplevel: False
    - if_missing: {{ release_dir }}/bin/marathon
    - user: root
    - group: root
    - trim_output: True

marathon-install-archive-file-symlink-current:
  file.symlink:
    - name: {{ archive.directory }}/current
    - target: {{ release_dir }}
    - force: True
    - require:
      - archive: marathon-install-archive-archive-extracted
