#!/bin/sh
# Twilio never returns a Secret's value, so the program reads each one from the stack
# config. Run these before the first `pulumi up`; each prompts for the value, or pipe it
# in (multi-line PEM files too):  pulumi config set --secret NAME < file.pem
set -e

# Credentials the provider reads at `pulumi up` (the token or secret prompts, hidden):
pulumi config set twilio:accountSid AC0123456789abcdef0123456789abcdef
pulumi config set --secret twilio:authToken
# Account-level Secret "provisioning-token"
pulumi config set --secret account-provisioning-token
# Device UV03204de92e11fc8c528139be41906592 ("sensor-001"), Secret "azure-connection-string"
pulumi config set --secret sensor-001-azure-connection-string
# Device UV03204de92e11fc8c528139be41906592 ("sensor-001"), Secret "client-cert"
pulumi config set --secret sensor-001-client-cert
# Device UV03204de92e11fc8c528139be41906592 ("sensor-001"), Secret "client-key"
pulumi config set --secret sensor-001-client-key
# Device UV588605bf5362e8b7f170c8b2926c4061 ("sensor-002"), Secret "azure-connection-string"
pulumi config set --secret sensor-002-azure-connection-string
# Device UV588605bf5362e8b7f170c8b2926c4061 ("sensor-002"), Secret "client-cert"
pulumi config set --secret sensor-002-client-cert
# Device UV588605bf5362e8b7f170c8b2926c4061 ("sensor-002"), Secret "client-key"
pulumi config set --secret sensor-002-client-key
# Device UV048e7ef65d968dd7f273eca282f8e346 ("sensor-003"), Secret "azure-connection-string"
pulumi config set --secret sensor-003-azure-connection-string
# Device UV048e7ef65d968dd7f273eca282f8e346 ("sensor-003"), Secret "client-cert"
pulumi config set --secret sensor-003-client-cert
# Device UV048e7ef65d968dd7f273eca282f8e346 ("sensor-003"), Secret "client-key"
pulumi config set --secret sensor-003-client-key
# Device UV6967765e90c7a486f93f03b7f43173d2 ("sensor-004"), Secret "azure-connection-string"
pulumi config set --secret sensor-004-azure-connection-string
# Device UV6967765e90c7a486f93f03b7f43173d2 ("sensor-004"), Secret "client-cert"
pulumi config set --secret sensor-004-client-cert
# Device UV6967765e90c7a486f93f03b7f43173d2 ("sensor-004"), Secret "client-key"
pulumi config set --secret sensor-004-client-key
# Device UVb4a6ee2735299815f102eca57a5cb4e7 ("sensor-005"), Secret "azure-connection-string"
pulumi config set --secret sensor-005-azure-connection-string
# Device UVb4a6ee2735299815f102eca57a5cb4e7 ("sensor-005"), Secret "client-cert"
pulumi config set --secret sensor-005-client-cert
# Device UVb4a6ee2735299815f102eca57a5cb4e7 ("sensor-005"), Secret "client-key"
pulumi config set --secret sensor-005-client-key
# Device UVe121f9cf80fe4f752badc2d0ca6434d9 ("sensor-006"), Secret "azure-connection-string"
pulumi config set --secret sensor-006-azure-connection-string
# Device UVe121f9cf80fe4f752badc2d0ca6434d9 ("sensor-006"), Secret "client-cert"
pulumi config set --secret sensor-006-client-cert
# Device UVe121f9cf80fe4f752badc2d0ca6434d9 ("sensor-006"), Secret "client-key"
pulumi config set --secret sensor-006-client-key
# Device UVf65a5b250b6fdc53b33518b4c6a8c277 ("sensor-007"), Secret "azure-connection-string"
pulumi config set --secret sensor-007-azure-connection-string
# Device UVf65a5b250b6fdc53b33518b4c6a8c277 ("sensor-007"), Secret "client-cert"
pulumi config set --secret sensor-007-client-cert
# Device UVf65a5b250b6fdc53b33518b4c6a8c277 ("sensor-007"), Secret "client-key"
pulumi config set --secret sensor-007-client-key
# Device UV27e9897da433d4ae4d617fd4916701fb ("sensor-008"), Secret "azure-connection-string"
pulumi config set --secret sensor-008-azure-connection-string
# Device UV27e9897da433d4ae4d617fd4916701fb ("sensor-008"), Secret "client-cert"
pulumi config set --secret sensor-008-client-cert
# Device UV27e9897da433d4ae4d617fd4916701fb ("sensor-008"), Secret "client-key"
pulumi config set --secret sensor-008-client-key
# Device UV3a474b00243fa27c31f840d249af4f17 ("sensor-009"), Secret "azure-connection-string"
pulumi config set --secret sensor-009-azure-connection-string
# Device UV3a474b00243fa27c31f840d249af4f17 ("sensor-009"), Secret "client-cert"
pulumi config set --secret sensor-009-client-cert
# Device UV3a474b00243fa27c31f840d249af4f17 ("sensor-009"), Secret "client-key"
pulumi config set --secret sensor-009-client-key
# Device UVfc1f09b4456eb82fcf80a5ae6a10810c ("sensor-010"), Secret "azure-connection-string"
pulumi config set --secret sensor-010-azure-connection-string
# Device UVfc1f09b4456eb82fcf80a5ae6a10810c ("sensor-010"), Secret "client-cert"
pulumi config set --secret sensor-010-client-cert
# Device UVfc1f09b4456eb82fcf80a5ae6a10810c ("sensor-010"), Secret "client-key"
pulumi config set --secret sensor-010-client-key
# Device UV725501e7231d5ec9be2ffe15d00d0066 ("sensor-011"), Secret "azure-connection-string"
pulumi config set --secret sensor-011-azure-connection-string
# Device UV725501e7231d5ec9be2ffe15d00d0066 ("sensor-011"), Secret "client-cert"
pulumi config set --secret sensor-011-client-cert
# Device UV725501e7231d5ec9be2ffe15d00d0066 ("sensor-011"), Secret "client-key"
pulumi config set --secret sensor-011-client-key
# Device UVc418af7aef2dcaf05e21bb2d6d8c0e19 ("sensor-012"), Secret "azure-connection-string"
pulumi config set --secret sensor-012-azure-connection-string
# Device UVc418af7aef2dcaf05e21bb2d6d8c0e19 ("sensor-012"), Secret "client-cert"
pulumi config set --secret sensor-012-client-cert
# Device UVc418af7aef2dcaf05e21bb2d6d8c0e19 ("sensor-012"), Secret "client-key"
pulumi config set --secret sensor-012-client-key
# Device UV9a29989634bca41c3acbfdee6dd955fa ("sensor-013"), Secret "azure-connection-string"
pulumi config set --secret sensor-013-azure-connection-string
# Device UV9a29989634bca41c3acbfdee6dd955fa ("sensor-013"), Secret "client-cert"
pulumi config set --secret sensor-013-client-cert
# Device UV9a29989634bca41c3acbfdee6dd955fa ("sensor-013"), Secret "client-key"
pulumi config set --secret sensor-013-client-key
# Device UV96ba3760c21159f140f9857aab76a87f ("sensor-014"), Secret "azure-connection-string"
pulumi config set --secret sensor-014-azure-connection-string
# Device UV96ba3760c21159f140f9857aab76a87f ("sensor-014"), Secret "client-cert"
pulumi config set --secret sensor-014-client-cert
# Device UV96ba3760c21159f140f9857aab76a87f ("sensor-014"), Secret "client-key"
pulumi config set --secret sensor-014-client-key
# Device UV0c482f9d770a2b56e4c150ae3f5bc718 ("sensor-015"), Secret "azure-connection-string"
pulumi config set --secret sensor-015-azure-connection-string
# Device UV0c482f9d770a2b56e4c150ae3f5bc718 ("sensor-015"), Secret "client-cert"
pulumi config set --secret sensor-015-client-cert
# Device UV0c482f9d770a2b56e4c150ae3f5bc718 ("sensor-015"), Secret "client-key"
pulumi config set --secret sensor-015-client-key
# Device UV44380146756de9387d0aaa8058a6fa12 ("sensor-016"), Secret "azure-connection-string"
pulumi config set --secret sensor-016-azure-connection-string
# Device UV44380146756de9387d0aaa8058a6fa12 ("sensor-016"), Secret "client-cert"
pulumi config set --secret sensor-016-client-cert
# Device UV44380146756de9387d0aaa8058a6fa12 ("sensor-016"), Secret "client-key"
pulumi config set --secret sensor-016-client-key
# Device UV0a563dcd8ddc9091fe8dde93f0c3a750 ("sensor-017"), Secret "azure-connection-string"
pulumi config set --secret sensor-017-azure-connection-string
# Device UV0a563dcd8ddc9091fe8dde93f0c3a750 ("sensor-017"), Secret "client-cert"
pulumi config set --secret sensor-017-client-cert
# Device UV0a563dcd8ddc9091fe8dde93f0c3a750 ("sensor-017"), Secret "client-key"
pulumi config set --secret sensor-017-client-key
# Device UV93cb14cee085d06a6d7a49b24eaa8d1e ("sensor-018"), Secret "azure-connection-string"
pulumi config set --secret sensor-018-azure-connection-string
# Device UV93cb14cee085d06a6d7a49b24eaa8d1e ("sensor-018"), Secret "client-cert"
pulumi config set --secret sensor-018-client-cert
# Device UV93cb14cee085d06a6d7a49b24eaa8d1e ("sensor-018"), Secret "client-key"
pulumi config set --secret sensor-018-client-key
# Device UVa5c17e24e6721862fc98a13ab359419b ("sensor-019"), Secret "azure-connection-string"
pulumi config set --secret sensor-019-azure-connection-string
# Device UVa5c17e24e6721862fc98a13ab359419b ("sensor-019"), Secret "client-cert"
pulumi config set --secret sensor-019-client-cert
# Device UVa5c17e24e6721862fc98a13ab359419b ("sensor-019"), Secret "client-key"
pulumi config set --secret sensor-019-client-key
# Device UV80e9086348f858b0985a5b6e3063c1fa ("sensor-021"), Secret "azure-connection-string"
pulumi config set --secret sensor-021-azure-connection-string
# Device UV80e9086348f858b0985a5b6e3063c1fa ("sensor-021"), Secret "client-cert"
pulumi config set --secret sensor-021-client-cert
# Device UV80e9086348f858b0985a5b6e3063c1fa ("sensor-021"), Secret "client-key"
pulumi config set --secret sensor-021-client-key
# Device UV5ad18b6b26fc19f2922c9109f97410f6 ("sensor-022"), Secret "azure-connection-string"
pulumi config set --secret sensor-022-azure-connection-string
# Device UV5ad18b6b26fc19f2922c9109f97410f6 ("sensor-022"), Secret "client-cert"
pulumi config set --secret sensor-022-client-cert
# Device UV5ad18b6b26fc19f2922c9109f97410f6 ("sensor-022"), Secret "client-key"
pulumi config set --secret sensor-022-client-key
# Device UV6230253cc4a0cde20c9304f8cc0b9ca9 ("sensor-023"), Secret "azure-connection-string"
pulumi config set --secret sensor-023-azure-connection-string
# Device UV6230253cc4a0cde20c9304f8cc0b9ca9 ("sensor-023"), Secret "client-cert"
pulumi config set --secret sensor-023-client-cert
# Device UV6230253cc4a0cde20c9304f8cc0b9ca9 ("sensor-023"), Secret "client-key"
pulumi config set --secret sensor-023-client-key
# Device UVc762cd2d5bc59dd81d96bf0906aa60d5 ("sensor-024"), Secret "azure-connection-string"
pulumi config set --secret sensor-024-azure-connection-string
# Device UVc762cd2d5bc59dd81d96bf0906aa60d5 ("sensor-024"), Secret "client-cert"
pulumi config set --secret sensor-024-client-cert
# Device UVc762cd2d5bc59dd81d96bf0906aa60d5 ("sensor-024"), Secret "client-key"
pulumi config set --secret sensor-024-client-key
# Device UV892bcc7c4a25636495dc92f1bab667f9 ("sensor-025"), Secret "azure-connection-string"
pulumi config set --secret sensor-025-azure-connection-string
# Device UV892bcc7c4a25636495dc92f1bab667f9 ("sensor-025"), Secret "client-cert"
pulumi config set --secret sensor-025-client-cert
# Device UV892bcc7c4a25636495dc92f1bab667f9 ("sensor-025"), Secret "client-key"
pulumi config set --secret sensor-025-client-key
# Device UVf03c5f6689ef9c01b7b49ed663801577 ("sensor-026"), Secret "azure-connection-string"
pulumi config set --secret sensor-026-azure-connection-string
# Device UVf03c5f6689ef9c01b7b49ed663801577 ("sensor-026"), Secret "client-cert"
pulumi config set --secret sensor-026-client-cert
# Device UVf03c5f6689ef9c01b7b49ed663801577 ("sensor-026"), Secret "client-key"
pulumi config set --secret sensor-026-client-key
# Device UVfa023490fd7448f17cc64916dce96707 ("sensor-027"), Secret "azure-connection-string"
pulumi config set --secret sensor-027-azure-connection-string
# Device UVfa023490fd7448f17cc64916dce96707 ("sensor-027"), Secret "client-cert"
pulumi config set --secret sensor-027-client-cert
# Device UVfa023490fd7448f17cc64916dce96707 ("sensor-027"), Secret "client-key"
pulumi config set --secret sensor-027-client-key
# Device UV97b2d0dec2040ce25a2eb23abc2fa630 ("sensor-028"), Secret "azure-connection-string"
pulumi config set --secret sensor-028-azure-connection-string
# Device UV97b2d0dec2040ce25a2eb23abc2fa630 ("sensor-028"), Secret "client-cert"
pulumi config set --secret sensor-028-client-cert
# Device UV97b2d0dec2040ce25a2eb23abc2fa630 ("sensor-028"), Secret "client-key"
pulumi config set --secret sensor-028-client-key
# Device UV8e8669c03d83c778e51b735b5c65926a ("sensor-029"), Secret "azure-connection-string"
pulumi config set --secret sensor-029-azure-connection-string
# Device UV8e8669c03d83c778e51b735b5c65926a ("sensor-029"), Secret "client-cert"
pulumi config set --secret sensor-029-client-cert
# Device UV8e8669c03d83c778e51b735b5c65926a ("sensor-029"), Secret "client-key"
pulumi config set --secret sensor-029-client-key
# Device UV27ff9a7be63cbf8888ce9aa3c2cea4a3 ("sensor-030"), Secret "azure-connection-string"
pulumi config set --secret sensor-030-azure-connection-string
# Device UV27ff9a7be63cbf8888ce9aa3c2cea4a3 ("sensor-030"), Secret "client-cert"
pulumi config set --secret sensor-030-client-cert
# Device UV27ff9a7be63cbf8888ce9aa3c2cea4a3 ("sensor-030"), Secret "client-key"
pulumi config set --secret sensor-030-client-key
# Device UVf92ff20320c0226b8256cf9fe655d429 ("sensor-031"), Secret "azure-connection-string"
pulumi config set --secret sensor-031-azure-connection-string
# Device UVf92ff20320c0226b8256cf9fe655d429 ("sensor-031"), Secret "client-cert"
pulumi config set --secret sensor-031-client-cert
# Device UVf92ff20320c0226b8256cf9fe655d429 ("sensor-031"), Secret "client-key"
pulumi config set --secret sensor-031-client-key
# Device UVbf41c49941785af612c292d5386dfc3b ("sensor-032"), Secret "azure-connection-string"
pulumi config set --secret sensor-032-azure-connection-string
# Device UVbf41c49941785af612c292d5386dfc3b ("sensor-032"), Secret "client-cert"
pulumi config set --secret sensor-032-client-cert
# Device UVbf41c49941785af612c292d5386dfc3b ("sensor-032"), Secret "client-key"
pulumi config set --secret sensor-032-client-key
# Device UVe4ce4d58b672291240feaa1e6d4421d9 ("sensor-033"), Secret "azure-connection-string"
pulumi config set --secret sensor-033-azure-connection-string
# Device UVe4ce4d58b672291240feaa1e6d4421d9 ("sensor-033"), Secret "client-cert"
pulumi config set --secret sensor-033-client-cert
# Device UVe4ce4d58b672291240feaa1e6d4421d9 ("sensor-033"), Secret "client-key"
pulumi config set --secret sensor-033-client-key
# Device UVe4a7410d74d87cb15e6fabfd03afa6eb ("sensor-034"), Secret "azure-connection-string"
pulumi config set --secret sensor-034-azure-connection-string
# Device UVe4a7410d74d87cb15e6fabfd03afa6eb ("sensor-034"), Secret "client-cert"
pulumi config set --secret sensor-034-client-cert
# Device UVe4a7410d74d87cb15e6fabfd03afa6eb ("sensor-034"), Secret "client-key"
pulumi config set --secret sensor-034-client-key
# Device UVce8114ffe1afb7fa5af9cd492ebeb1af ("sensor-035"), Secret "azure-connection-string"
pulumi config set --secret sensor-035-azure-connection-string
# Device UVce8114ffe1afb7fa5af9cd492ebeb1af ("sensor-035"), Secret "client-cert"
pulumi config set --secret sensor-035-client-cert
# Device UVce8114ffe1afb7fa5af9cd492ebeb1af ("sensor-035"), Secret "client-key"
pulumi config set --secret sensor-035-client-key
# Device UV30414a0746f9ac63eaa7d9a254b2f3dc ("sensor-036"), Secret "azure-connection-string"
pulumi config set --secret sensor-036-azure-connection-string
# Device UV30414a0746f9ac63eaa7d9a254b2f3dc ("sensor-036"), Secret "client-cert"
pulumi config set --secret sensor-036-client-cert
# Device UV30414a0746f9ac63eaa7d9a254b2f3dc ("sensor-036"), Secret "client-key"
pulumi config set --secret sensor-036-client-key
# Device UVd3ec3a0d2142dd598bbe148a45eb75d5 ("sensor-037"), Secret "azure-connection-string"
pulumi config set --secret sensor-037-azure-connection-string
# Device UVd3ec3a0d2142dd598bbe148a45eb75d5 ("sensor-037"), Secret "client-cert"
pulumi config set --secret sensor-037-client-cert
# Device UVd3ec3a0d2142dd598bbe148a45eb75d5 ("sensor-037"), Secret "client-key"
pulumi config set --secret sensor-037-client-key
# Device UVefa38fb643e835955394c1e103883bff ("sensor-038"), Secret "azure-connection-string"
pulumi config set --secret sensor-038-azure-connection-string
# Device UVefa38fb643e835955394c1e103883bff ("sensor-038"), Secret "client-cert"
pulumi config set --secret sensor-038-client-cert
# Device UVefa38fb643e835955394c1e103883bff ("sensor-038"), Secret "client-key"
pulumi config set --secret sensor-038-client-key
# Device UV0592e369ce741397db2b77c1582be43f ("sensor-039"), Secret "azure-connection-string"
pulumi config set --secret sensor-039-azure-connection-string
# Device UV0592e369ce741397db2b77c1582be43f ("sensor-039"), Secret "client-cert"
pulumi config set --secret sensor-039-client-cert
# Device UV0592e369ce741397db2b77c1582be43f ("sensor-039"), Secret "client-key"
pulumi config set --secret sensor-039-client-key
# Device UV7826c3deb4fae3da3687e34377b5ef4a ("sensor-041"), Secret "azure-connection-string"
pulumi config set --secret sensor-041-azure-connection-string
# Device UV7826c3deb4fae3da3687e34377b5ef4a ("sensor-041"), Secret "client-cert"
pulumi config set --secret sensor-041-client-cert
# Device UV7826c3deb4fae3da3687e34377b5ef4a ("sensor-041"), Secret "client-key"
pulumi config set --secret sensor-041-client-key
# Device UV03eb6abfefd46cd099f54e630936fb95 ("sensor-042"), Secret "azure-connection-string"
pulumi config set --secret sensor-042-azure-connection-string
# Device UV03eb6abfefd46cd099f54e630936fb95 ("sensor-042"), Secret "client-cert"
pulumi config set --secret sensor-042-client-cert
# Device UV03eb6abfefd46cd099f54e630936fb95 ("sensor-042"), Secret "client-key"
pulumi config set --secret sensor-042-client-key
# Device UV5e4a0c3824ec4d4bab3af2dcb8b54acb ("sensor-043"), Secret "azure-connection-string"
pulumi config set --secret sensor-043-azure-connection-string
# Device UV5e4a0c3824ec4d4bab3af2dcb8b54acb ("sensor-043"), Secret "client-cert"
pulumi config set --secret sensor-043-client-cert
# Device UV5e4a0c3824ec4d4bab3af2dcb8b54acb ("sensor-043"), Secret "client-key"
pulumi config set --secret sensor-043-client-key
# Device UV8100934830390c829eace9c9c2be90b1 ("sensor-044"), Secret "azure-connection-string"
pulumi config set --secret sensor-044-azure-connection-string
# Device UV8100934830390c829eace9c9c2be90b1 ("sensor-044"), Secret "client-cert"
pulumi config set --secret sensor-044-client-cert
# Device UV8100934830390c829eace9c9c2be90b1 ("sensor-044"), Secret "client-key"
pulumi config set --secret sensor-044-client-key
# Device UVee55cd5ad077906cb4648d9d1673b42a ("sensor-045"), Secret "azure-connection-string"
pulumi config set --secret sensor-045-azure-connection-string
# Device UVee55cd5ad077906cb4648d9d1673b42a ("sensor-045"), Secret "client-cert"
pulumi config set --secret sensor-045-client-cert
# Device UVee55cd5ad077906cb4648d9d1673b42a ("sensor-045"), Secret "client-key"
pulumi config set --secret sensor-045-client-key
# Device UVf4e15ec77b8080fa022e28f3824d943c ("sensor-046"), Secret "azure-connection-string"
pulumi config set --secret sensor-046-azure-connection-string
# Device UVf4e15ec77b8080fa022e28f3824d943c ("sensor-046"), Secret "client-cert"
pulumi config set --secret sensor-046-client-cert
# Device UVf4e15ec77b8080fa022e28f3824d943c ("sensor-046"), Secret "client-key"
pulumi config set --secret sensor-046-client-key
# Device UV0462c03b44a8781eef53ae22bfd050e4 ("sensor-047"), Secret "azure-connection-string"
pulumi config set --secret sensor-047-azure-connection-string
# Device UV0462c03b44a8781eef53ae22bfd050e4 ("sensor-047"), Secret "client-cert"
pulumi config set --secret sensor-047-client-cert
# Device UV0462c03b44a8781eef53ae22bfd050e4 ("sensor-047"), Secret "client-key"
pulumi config set --secret sensor-047-client-key
# Device UV394b3a35f872125ec8a552f1d4d3116b ("sensor-048"), Secret "azure-connection-string"
pulumi config set --secret sensor-048-azure-connection-string
# Device UV394b3a35f872125ec8a552f1d4d3116b ("sensor-048"), Secret "client-cert"
pulumi config set --secret sensor-048-client-cert
# Device UV394b3a35f872125ec8a552f1d4d3116b ("sensor-048"), Secret "client-key"
pulumi config set --secret sensor-048-client-key
# Device UV831a3884c73f369dd0cea802b25c8ed2 ("sensor-049"), Secret "azure-connection-string"
pulumi config set --secret sensor-049-azure-connection-string
# Device UV831a3884c73f369dd0cea802b25c8ed2 ("sensor-049"), Secret "client-cert"
pulumi config set --secret sensor-049-client-cert
# Device UV831a3884c73f369dd0cea802b25c8ed2 ("sensor-049"), Secret "client-key"
pulumi config set --secret sensor-049-client-key
# Device UV85307e87cc6fc095cac236843c465eab ("sensor-050"), Secret "azure-connection-string"
pulumi config set --secret sensor-050-azure-connection-string
# Device UV85307e87cc6fc095cac236843c465eab ("sensor-050"), Secret "client-cert"
pulumi config set --secret sensor-050-client-cert
# Device UV85307e87cc6fc095cac236843c465eab ("sensor-050"), Secret "client-key"
pulumi config set --secret sensor-050-client-key
# Device UV92472e5855953311f468a729fb523e53 ("sensor-051"), Secret "azure-connection-string"
pulumi config set --secret sensor-051-azure-connection-string
# Device UV92472e5855953311f468a729fb523e53 ("sensor-051"), Secret "client-cert"
pulumi config set --secret sensor-051-client-cert
# Device UV92472e5855953311f468a729fb523e53 ("sensor-051"), Secret "client-key"
pulumi config set --secret sensor-051-client-key
# Device UV98fdbc3aeb62c9b220758eb4e112ccc2 ("sensor-052"), Secret "azure-connection-string"
pulumi config set --secret sensor-052-azure-connection-string
# Device UV98fdbc3aeb62c9b220758eb4e112ccc2 ("sensor-052"), Secret "client-cert"
pulumi config set --secret sensor-052-client-cert
# Device UV98fdbc3aeb62c9b220758eb4e112ccc2 ("sensor-052"), Secret "client-key"
pulumi config set --secret sensor-052-client-key
# Device UV02783c2407d2ea68141c5a764e4d173b ("sensor-053"), Secret "azure-connection-string"
pulumi config set --secret sensor-053-azure-connection-string
# Device UV02783c2407d2ea68141c5a764e4d173b ("sensor-053"), Secret "client-cert"
pulumi config set --secret sensor-053-client-cert
# Device UV02783c2407d2ea68141c5a764e4d173b ("sensor-053"), Secret "client-key"
pulumi config set --secret sensor-053-client-key
# Device UVf84a066bec8d4275dcbc764312dbb615 ("sensor-054"), Secret "azure-connection-string"
pulumi config set --secret sensor-054-azure-connection-string
# Device UVf84a066bec8d4275dcbc764312dbb615 ("sensor-054"), Secret "client-cert"
pulumi config set --secret sensor-054-client-cert
# Device UVf84a066bec8d4275dcbc764312dbb615 ("sensor-054"), Secret "client-key"
pulumi config set --secret sensor-054-client-key
# Device UVad2a80997e7fc876db9864fbb27e27f5 ("sensor-055"), Secret "azure-connection-string"
pulumi config set --secret sensor-055-azure-connection-string
# Device UVad2a80997e7fc876db9864fbb27e27f5 ("sensor-055"), Secret "client-cert"
pulumi config set --secret sensor-055-client-cert
# Device UVad2a80997e7fc876db9864fbb27e27f5 ("sensor-055"), Secret "client-key"
pulumi config set --secret sensor-055-client-key
# Device UVd7cbccfd1e759187a75c8de654cc078c ("sensor-056"), Secret "azure-connection-string"
pulumi config set --secret sensor-056-azure-connection-string
# Device UVd7cbccfd1e759187a75c8de654cc078c ("sensor-056"), Secret "client-cert"
pulumi config set --secret sensor-056-client-cert
# Device UVd7cbccfd1e759187a75c8de654cc078c ("sensor-056"), Secret "client-key"
pulumi config set --secret sensor-056-client-key
# Device UVd21260d1ceda5b04b7e477923ee644d6 ("sensor-057"), Secret "azure-connection-string"
pulumi config set --secret sensor-057-azure-connection-string
# Device UVd21260d1ceda5b04b7e477923ee644d6 ("sensor-057"), Secret "client-cert"
pulumi config set --secret sensor-057-client-cert
# Device UVd21260d1ceda5b04b7e477923ee644d6 ("sensor-057"), Secret "client-key"
pulumi config set --secret sensor-057-client-key
# Device UV2ff979ef7b75a44c6d9fe218d44cf651 ("sensor-058"), Secret "azure-connection-string"
pulumi config set --secret sensor-058-azure-connection-string
# Device UV2ff979ef7b75a44c6d9fe218d44cf651 ("sensor-058"), Secret "client-cert"
pulumi config set --secret sensor-058-client-cert
# Device UV2ff979ef7b75a44c6d9fe218d44cf651 ("sensor-058"), Secret "client-key"
pulumi config set --secret sensor-058-client-key
# Device UVf7a3d54d68b2cb09b74af0a85890ee55 ("sensor-059"), Secret "azure-connection-string"
pulumi config set --secret sensor-059-azure-connection-string
# Device UVf7a3d54d68b2cb09b74af0a85890ee55 ("sensor-059"), Secret "client-cert"
pulumi config set --secret sensor-059-client-cert
# Device UVf7a3d54d68b2cb09b74af0a85890ee55 ("sensor-059"), Secret "client-key"
pulumi config set --secret sensor-059-client-key
# Device UV478ecb9b7247cd6344f5b781c97678f0, Secret "azure-connection-string"
pulumi config set --secret uv478ecb9b7247cd6344f5b781c97678f0-azure-connection-string
# Device UV478ecb9b7247cd6344f5b781c97678f0, Secret "client-cert"
pulumi config set --secret uv478ecb9b7247cd6344f5b781c97678f0-client-cert
# Device UV478ecb9b7247cd6344f5b781c97678f0, Secret "client-key"
pulumi config set --secret uv478ecb9b7247cd6344f5b781c97678f0-client-key
# Device UV9a83918f347e11227a5cf4e5ae3b20b4, Secret "azure-connection-string"
pulumi config set --secret uv9a83918f347e11227a5cf4e5ae3b20b4-azure-connection-string
# Device UV9a83918f347e11227a5cf4e5ae3b20b4, Secret "client-cert"
pulumi config set --secret uv9a83918f347e11227a5cf4e5ae3b20b4-client-cert
# Device UV9a83918f347e11227a5cf4e5ae3b20b4, Secret "client-key"
pulumi config set --secret uv9a83918f347e11227a5cf4e5ae3b20b4-client-key
# Device UVe0e3bc440c49d9b3bfba8e9c894105d6, Secret "azure-connection-string"
pulumi config set --secret uve0e3bc440c49d9b3bfba8e9c894105d6-azure-connection-string
# Device UVe0e3bc440c49d9b3bfba8e9c894105d6, Secret "client-cert"
pulumi config set --secret uve0e3bc440c49d9b3bfba8e9c894105d6-client-cert
# Device UVe0e3bc440c49d9b3bfba8e9c894105d6, Secret "client-key"
pulumi config set --secret uve0e3bc440c49d9b3bfba8e9c894105d6-client-key
