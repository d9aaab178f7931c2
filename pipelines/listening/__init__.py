"""Listening to verbatims: themes of service from a documented taxonomy (`taxonomy.yaml`), matched
offline with stemming and negation in English and French (`matcher`), emergent themes per period
(`emergent`) and the evaluation against hand labels (`evaluate`)."""
