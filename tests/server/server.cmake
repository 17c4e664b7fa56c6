# strata-server tests (included by tests/CMakeLists.txt). Each starts its own
# servers (strata-server, redis-server, nutcracker) on free loopback ports and
# stops them by pid. Run alone with `ctest -L server`.
#   server.unit          cmocka tests of the RESP parser (resp.c), and the fuzz
#                        corpus replayed through it
#   server.clients       redis-py, redis-cli, redis-benchmark; auth, limits, timeouts
#   server.features      SELECT isolation, expiry, MULTI/EXEC atomicity, WATCH, sync modes
#   server.conformance   the same bytes to strata-server and redis-server 7: same replies
#   server.durability    SIGKILL during sync-always writes, 50 times: no acknowledged write lost
#   server.tls           the TLS port with redis-cli --tls and redis-py (client certificates)
#   server.nutcracker    three servers behind twemproxy: sharding, a backend killed and restarted
#   server.man           strata-server(1) renders without warnings, documents every option
set(SERVER_TEST_DIR ${CMAKE_CURRENT_LIST_DIR})
set(DEBIAN_PYTHON /usr/bin/python3)

add_executable(server_unit_test ${SERVER_TEST_DIR}/unit_test.c)
target_include_directories(server_unit_test PRIVATE ${CMOCKA_INCLUDE_DIRS})
target_link_libraries(server_unit_test PRIVATE strata_server_lib ${CMOCKA_LIBRARIES})
target_compile_definitions(server_unit_test PRIVATE
  SV_FUZZ_CORPUS="${PROJECT_SOURCE_DIR}/fuzz/corpus/resp")
add_test(NAME server.unit COMMAND server_unit_test)
set_tests_properties(server.unit PROPERTIES ENVIRONMENT "CMOCKA_MESSAGE_OUTPUT=stdout"
  LABELS server TIMEOUT 120)

foreach(t clients features conformance durability tls nutcracker)
  add_test(NAME server.${t}
           COMMAND ${DEBIAN_PYTHON} ${SERVER_TEST_DIR}/${t}_test.py)
  set_tests_properties(server.${t} PROPERTIES LABELS server TIMEOUT 600
    ENVIRONMENT "STRATA_SERVER=$<TARGET_FILE:strata_server>;STRATA_TOOL=$<TARGET_FILE:strata_cli>;PYTHONDONTWRITEBYTECODE=1")
endforeach()


# strata-server(1) renders without a warning and documents every option.
find_program(MAN_EXE man)
if(MAN_EXE)
  add_test(NAME server.man
           COMMAND sh ${SERVER_TEST_DIR}/man_test.sh $<TARGET_FILE:strata_server>
                   ${PROJECT_BINARY_DIR}/strata-server.1)
  set_tests_properties(server.man PROPERTIES LABELS server TIMEOUT 60)
endif()
