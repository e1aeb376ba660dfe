"""Layer 1, the contract: what Assessio's Recruitment API is, and nothing else of the package.

The wire models and their codec, request signing, the HTTP transport and client, and the
result webhook's authentication and parsing. It imports no other part of `assessio_connect`;
the public names are re-exported from `assessio_connect` itself.
"""
