from bordersim.cli import main

main()
