"""Cases' intake channels: Open311 GeoReport v2 (``open311``), hotline / mailbox integrations and
their webhooks (``integrations``, ``integration_api``, ``webhooks``), and photo / video uploads
(``uploads``, checked and cleaned by ``media``)."""
