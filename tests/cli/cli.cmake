# Tests of the strata command-line tool (included by tests/CMakeLists.txt).
#
#   cli, cli.live     end-to-end tests of the strata binary (cli_test.sh); the
#                     second half runs beside other processes: progress on a
#                     pty, signals, processes holding the database; watch and
#                     copies beside a writer process (cli_writer.c), the
#                     copies opened by LevelDB 1.23 too (ldb_tool of
#                     tests/suites) when it is built
#   cli.man           strata(1) renders without warnings and lists every command
#   cli.mdb_interop   dump/load round trips through LMDB's mdb_dump and
#                     mdb_load, registered only when lmdb-utils is installed
#   unit.cli_dumpfmt  cmocka tests of the text encodings and the load-format
#                     reader; dumpfmt.c needs no database, so it is compiled
#                     in directly instead of linking the tool.

# A writer process for the tests of commands beside a writer.
add_executable(cli_writer ${CMAKE_CURRENT_LIST_DIR}/cli_writer.c)
target_link_libraries(cli_writer PRIVATE strata_static)

# Two halves, so that ctest -j2 runs them side by side.
add_test(NAME cli COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/cli_test.sh $<TARGET_FILE:strata_cli>
                          kv scan dump jsonl load errors repair subdb cdbmake edit)
add_test(NAME cli.live COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/cli_test.sh $<TARGET_FILE:strata_cli>
                               warm progress interrupt readers watch copy hotcopy)
# LevelDB 1.23's side (ldb_tool, tests/suites) opens the hot copies when it
# is built.
set(CLI_TEST_ENV "CLI_WRITER=$<TARGET_FILE:cli_writer>")
if(TARGET ldb_tool)
  list(APPEND CLI_TEST_ENV "LDB_TOOL=$<TARGET_FILE:ldb_tool>")
endif()
set_tests_properties(cli cli.live PROPERTIES ENVIRONMENT "${CLI_TEST_ENV}")

# strata(1) renders with man -l without a warning (groff's -ww through
# man --warnings), and names every command of 'strata --help'.
find_program(MAN_EXE man)
if(MAN_EXE)
  add_test(NAME cli.man
           COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/man_test.sh $<TARGET_FILE:strata_cli>
                   ${PROJECT_BINARY_DIR}/strata.1)
endif()

find_program(MDB_DUMP_EXE mdb_dump)
find_program(MDB_LOAD_EXE mdb_load)
if(MDB_DUMP_EXE AND MDB_LOAD_EXE)
  add_test(NAME cli.mdb_interop
           COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/cli_test.sh $<TARGET_FILE:strata_cli> mdb mdbbig)
endif()

add_executable(cli_dumpfmt_test ${CMAKE_CURRENT_LIST_DIR}/dumpfmt_test.c
                                ${PROJECT_SOURCE_DIR}/tools/strata/dumpfmt.c)
target_include_directories(cli_dumpfmt_test PRIVATE ${CMOCKA_INCLUDE_DIRS}
                                                    ${PROJECT_SOURCE_DIR}/tools/strata)
target_link_libraries(cli_dumpfmt_test PRIVATE ${CMOCKA_LIBRARIES})
add_test(NAME unit.cli_dumpfmt COMMAND cli_dumpfmt_test)
set_tests_properties(unit.cli_dumpfmt PROPERTIES ENVIRONMENT "CMOCKA_MESSAGE_OUTPUT=stdout")
