# bench.smoke: runs strata-bench on a small database with every built engine
# and checks that it exits 0 and that its JSON holds one result per workload
# per engine (bulkload: strata only) plus each engine's peak RSS. Never looks
# at timings.
#   cmake -DDRIVER=<strata-bench> -DENGINES=a,b -DWORKDIR=<dir> -P smoke_check.cmake
set(workloads fillseq bulkload fillsync fillrandom overwrite readrandom readseq readreverse compact
              readrandom.2 readmissing seekrandom readrandom_mt readwhilewriting deleterandom
              fill100K)
file(REMOVE_RECURSE ${WORKDIR})
file(MAKE_DIRECTORY ${WORKDIR})
execute_process(COMMAND ${DRIVER} --num 2000 --repeat 1 --threads 2 --engines ${ENGINES}
                        --db ${WORKDIR}/db --json ${WORKDIR}/smoke.json
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "strata-bench exited with ${rc}:\n${err}")
endif()
file(READ ${WORKDIR}/smoke.json json)
string(REPLACE "," ";" engines "${ENGINES}")
foreach(engine ${engines})
  foreach(w ${workloads})
    # Only the strata engine has a sorted bulk load; the others report
    # bulkload as not supported.
    if(w STREQUAL "bulkload" AND NOT engine STREQUAL "strata")
      continue()
    endif()
    string(REGEX MATCH "{\"engine\":\"${engine}\",\"bench\":\"[^\"]*\",\"label\":\"${w}\",[^}]*\"round\":1,"
           row "${json}")
    if(row STREQUAL "")
      message(FATAL_ERROR "no ${w} result for ${engine} in ${WORKDIR}/smoke.json")
    endif()
  endforeach()
  string(FIND "${json}" "{\"engine\":\"${engine}\",\"round\":1,\"peak_rss_kb\":" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "no peak RSS for ${engine} in ${WORKDIR}/smoke.json")
  endif()
endforeach()
file(REMOVE_RECURSE ${WORKDIR})
