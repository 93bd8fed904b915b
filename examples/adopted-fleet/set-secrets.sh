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
# Device UV478ecb9b7247cd6344f5b781c97678f0, Secret "azure-connection-string"
pulumi config set --secret uv478ecb9b7247cd6344f5b781c97678f0-azure-connection-string
# Device UV478ecb9b7247cd6344f5b781c97678f0, Secret "client-cert"
pulumi config set --secret uv478ecb9b7247cd6344f5b781c97678f0-client-cert
# Device UV478ecb9b7247cd6344f5b781c97678f0, Secret "client-key"
pulumi config set --secret uv478ecb9b7247cd6344f5b781c97678f0-client-key
