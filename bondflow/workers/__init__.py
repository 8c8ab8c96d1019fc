"""Effect workers: execution (RFQ), payments, chain, KYC. They report outcomes through handlers."""
