import sys

from casework_common.launch import main

sys.exit(
    main(
        "clients",
        sys.argv,
        api="casework_clients.entrypoints.api:register",
        access="casework_clients.entrypoints.access:ACCESS",
        events="casework_clients.entrypoints.events:ClientsEvents",
    )
)
