{#- A Consul agent on every host: server on the datacenter's control nodes, client elsewhere;
    its ACL policies and tokens and the check of its certificate's expiry; control nodes also
    join the other datacenters over the WAN and save snapshots. #}
include:
  - .install
  - .config
  - .backup
  - .service
  - .acl
  - .certificate
  - .wan
