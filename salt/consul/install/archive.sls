{#- HashiCorp's release zip, checked against the published SHA256SUMS (or a hash pinned in
    pillar), unpacked into its own versioned directory; /usr/local/bin/consul points at it.
    `source` and `source_hash` are format strings over {base_url}, {version} and {arch}, so a
    mirror overrides consul:install:archive:base_url only, and a literal URL or hash
    (sha256=...) overrides either entirely. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import consul with context %}
{%- set archive = consul.install.archive %}
{%- set url_parts = {
      'base_url': archive.base_url.rstrip('/'),
      'version': consul.version,
      'arch': archive.arch,
    } %}
{%- set directory = archive.directory ~ '/' ~ consul.version %}

consul-install-archive-archive-extracted:
  archive.extracted:
    - name: {{ directory }}
    - source: {{ archive.source.format(**url_parts) | json }}
    - source_hash: {{ archive.source_hash.format(**url_parts) | json }}
    - archive_format: zip
    - enforce_toplevel: False
    - user: root
    - group: root
    - trim_output: True
    {#- The release's directory is named by its version and holds only what the verified
        archive held: once its binary is there, nothing is fetched again (no SHA256SUMS
        download, and an honest empty report in test mode). #}
    - if_missing: {{ directory }}/consul

consul-install-archive-file-symlink:
  file.symlink:
    - name: {{ archive.bin }}
    - target: {{ directory }}/consul
    - force: True
    - require:
      - archive: consul-install-archive-archive-extracted
