import sys

from casework_common.launch import main

sys.exit(
    main(
        "notify",
        sys.argv,
        api="casework_notify.entrypoints.api:register",
        access="casework_notify.entrypoints.access:ACCESS",
        events="casework_notify.entrypoints.events:NotifyEvents",
    )
)
