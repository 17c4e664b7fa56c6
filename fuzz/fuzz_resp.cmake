# fuzz_resp links the server library (server/resp.c and its helpers; its
# include directory is public).
set(FUZZ_LIBS strata_server_lib)
