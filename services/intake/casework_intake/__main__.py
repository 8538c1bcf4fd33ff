import sys

from casework_common.launch import main

sys.exit(
    main(
        "intake",
        sys.argv,
        api="casework_intake.entrypoints.api:register",
        access="casework_intake.entrypoints.access:ACCESS",
        events="casework_intake.entrypoints.events:IntakeEvents",
    )
)
