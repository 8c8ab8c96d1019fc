"""Order execution: the execution advisor (the brief's "AI gateway") and the RFQ execution worker."""
