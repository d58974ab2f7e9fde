# The only policy of the job's token: read one secret and its version list.
path "secret/data/functional-tests" {
  capabilities = ["read"]
}
path "secret/metadata/functional-tests" {
  capabilities = ["read"]
}
