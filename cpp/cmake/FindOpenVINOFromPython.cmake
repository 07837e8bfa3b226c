# vgg_deploy_openvino_dir_from_python(OUT_VAR): the CMake folder of the `openvino` PyPI wheel
# (<site-packages>/openvino/cmake, holding OpenVINOConfig.cmake), found from a Python interpreter, so that
# `cmake -S cpp -B build` inside the project's venv needs no -DOpenVINO_DIR. Python is looked for in this order:
# VGG_DEPLOY_PYTHON (CMake variable), the active venv ($VIRTUAL_ENV/bin/python), the project's .venv next to cpp/,
# then python3 on PATH. Sets OUT_VAR to the folder, or to "" with VGG_DEPLOY_OPENVINO_PYTHON_NOTE saying why not.
function(vgg_deploy_openvino_dir_from_python out_var)
    set(_candidates)
    if(VGG_DEPLOY_PYTHON)
        list(APPEND _candidates "${VGG_DEPLOY_PYTHON}")
    endif()
    if(DEFINED ENV{VIRTUAL_ENV})
        list(APPEND _candidates "$ENV{VIRTUAL_ENV}/bin/python" "$ENV{VIRTUAL_ENV}/Scripts/python.exe")
    endif()
    get_filename_component(_project "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/../.." ABSOLUTE)
    list(APPEND _candidates "${_project}/.venv/bin/python" "${_project}/.venv/Scripts/python.exe")
    find_program(_vgg_python3 NAMES python3 python)
    if(_vgg_python3)
        list(APPEND _candidates "${_vgg_python3}")
    endif()
    set(_tried)
    foreach(_python IN LISTS _candidates)
        if(NOT EXISTS "${_python}")
            continue()
        endif()
        list(APPEND _tried "${_python}")
        # find_spec locates the package without importing it (no OpenVINO start-up cost at configure time).
        execute_process(
            COMMAND "${_python}" -c
                    "import importlib.util, os; s = importlib.util.find_spec('openvino'); print(os.path.join(list(s.submodule_search_locations)[0], 'cmake') if s else '')"
            OUTPUT_VARIABLE _dir OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _status)
        if(_status EQUAL 0 AND _dir AND EXISTS "${_dir}/OpenVINOConfig.cmake")
            set(${out_var} "${_dir}" PARENT_SCOPE)
            set(VGG_DEPLOY_OPENVINO_PYTHON_NOTE "from the openvino wheel of ${_python}" PARENT_SCOPE)
            return()
        endif()
    endforeach()
    set(${out_var} "" PARENT_SCOPE)
    if(_tried)
        list(JOIN _tried ", " _tried_text)
        set(VGG_DEPLOY_OPENVINO_PYTHON_NOTE "no openvino wheel with a cmake folder in ${_tried_text}" PARENT_SCOPE)
    else()
        set(VGG_DEPLOY_OPENVINO_PYTHON_NOTE "no Python found (no venv active, no .venv, no python3)" PARENT_SCOPE)
    endif()
endfunction()
