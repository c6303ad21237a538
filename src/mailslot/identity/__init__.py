"""Identity on request (EU Directive 2019/1937, art. 16): a source's identity sealed apart
from the case, opened only for the recipients a custodian allows."""
