{#- The Debian archive, and its security archive when pillar names one, on the site's mirror:
    one deb822 file, whose suites come from the host's own release (`{codename}` is the
    oscodename grain), so one pillar serves bookworm and trixie hosts alike. #}
{%- set tplroot = tpldir.split('/')[0] %}
{%- from tplroot ~ "/map.jinja" import sources with context %}
{%- set codename = grains.get('oscodename', '') %}
{%- set archives = [] %}
{%- for archive in [sources, sources.security] if archive.mirror %}
{%-   do archives.append({
        'uri': archive.mirror,
        'suites': archive.suites | map('replace', '{codename}', codename) | list,
        'components': sources.components,
        'signed_by': sources.signed_by,
      }) %}
{%- endfor %}

pkgsources-os-debian-file-managed:
  file.managed:
    - name: {{ sources.file }}
    - source: salt://{{ tplroot }}/files/debian.sources.jinja
    - template: jinja
    - context:
        config:
          archives: {{ archives | json }}
    - user: root
    - group: root
    - mode: '0644'
